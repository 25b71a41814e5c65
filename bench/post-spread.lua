-- wrk script: POST /events like bench/post.lua, but each request in another as-of key: occurredOn walks the months of
-- 2020-2024 and the category alternates (120 keys), so the requests of one group commit rarely share a rollup row.
-- Usage: wrk -s bench/post-spread.lua <url> -- <path> <bearer key or "none">
local counter = 0
local path, headers
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1000000))
local categories = { "gambling", "pornography" }

function init(args)
  path = args[1] or "/api/v1/events"
  headers = { ["Content-Type"] = "application/json" }
  if args[2] and args[2] ~= "none" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
end

function request()
  counter = counter + 1
  local month = counter % 60
  local body = string.format(
    '{"metric":"websites.cleaned","occurredOn":"%04d-%02d-%02d","quantity":5,"orgUnit":"hedong",'
    .. '"dimensions":{"category":"%s"},"externalId":"wrk-%s-%d","note":"bench"}',
    2020 + math.floor(month / 12), month % 12 + 1, counter % 28 + 1, categories[math.floor(counter / 60) % 2 + 1], prefix, counter)
  return wrk.format("POST", path, headers, body)
end
