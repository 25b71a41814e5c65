-- Which process runs an import: a random id each process draws at start (Api/Data/ProcessLease.cs). An import
-- queued or running under an owner that is gone can never finish; any process that finds one fails it. On SQLite one
-- process serves the file, so every owner but its own is gone; the column is kept for the same meaning on both stores.
ALTER TABLE imports ADD COLUMN owner INTEGER NULL;
