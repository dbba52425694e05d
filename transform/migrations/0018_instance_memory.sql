-- 0018: each Instance's highest memory in use per day, where Cockpit serves a memory series for it
-- (instance_server_memory_used, bytes; NULL without one), so that rightsizing recommends no type whose RAM would
-- not hold it. The next load recomputes every day (the model's text changed).

ALTER TABLE instance_cpu_daily ADD COLUMN IF NOT EXISTS memory_used_max Nullable(Float64);
