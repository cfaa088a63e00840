-- wrk script: GET /api/users/:id with ids spread uniformly over the seeded users.
local users = tonumber(os.getenv("BENCH_USERS") or "1000")
math.randomseed(20260101)

request = function()
  return wrk.format("GET", "/api/users/" .. math.random(1, users))
end
