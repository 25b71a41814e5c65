-- wrk script: POST /events (or the baseline's /events) with a unique externalId per request.
-- Usage: wrk -s bench/post.lua <url> -- <path> <bearer key or "none">
local counter = 0
local path, headers
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1000000))

function init(args)
  path = args[1] or "/api/v1/events"
  headers = { ["Content-Type"] = "application/json" }
  if args[2] and args[2] ~= "none" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":5,"orgUnit":"hedong",'
    .. '"dimensions":{"category":"gambling"},"externalId":"wrk-%s-%d","note":"bench"}', prefix, counter)
  return wrk.format("POST", path, headers, body)
end
