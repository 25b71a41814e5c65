-- wrk script: POST /events (or the baseline's /events) with a unique externalId per request.
-- Usage: wrk -s bench/post.lua <url> -- <path> <bearer key or "none"> [spread]
-- "spread": each request in another as-of key (occurredOn walks the months of 2020-2024 and the category alternates:
-- 120 keys), so the requests of one group commit rarely share a rollup row; otherwise every request has the same key.
local counter = 0
local path, headers, spread
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1000000))
local categories = { "gambling", "pornography" }

function init(args)
  path = args[1] or "/api/v1/events"
  headers = { ["Content-Type"] = "application/json" }
  if args[2] and args[2] ~= "none" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  spread = args[3] == "spread"
end

function request()
  counter = counter + 1
  local day, category = "2024-03-05", "gambling"
  if spread then
    local month = counter % 60
    day = string.format("%04d-%02d-%02d", 2020 + math.floor(month / 12), month % 12 + 1, counter % 28 + 1)
    category = categories[math.floor(counter / 60) % 2 + 1]
  end
  local body = string.format(
    '{"metric":"websites.cleaned","occurredOn":"%s","quantity":5,"orgUnit":"hedong",'
    .. '"dimensions":{"category":"%s"},"externalId":"wrk-%s-%d","note":"bench"}', day, category, prefix, counter)
  return wrk.format("POST", path, headers, body)
end
