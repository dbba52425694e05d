-- 0013: the load lease: which `costlake load` may write to this warehouse now.
--
-- Two loads racing on one ClickHouse server (a scheduled job retried while the first still runs) would each
-- delete the other's "leftover" rows and insert the same run twice. ClickHouse has no row locks, so the lease is
-- rows: each load inserts one (token, acquired_at = the server's clock), and the oldest live row wins; the
-- others wait in line, renewing their own rows so they keep their place. The holder renews its row well before
-- expires_at, so a killed load blocks the next one only until its row expires (COSTLAKE_LOAD_LEASE_SECONDS).
-- Every change is a new row; updated_at keeps the newest per token. The embedded warehouse needs none of this:
-- chDB opens a directory from one process at a time.

CREATE TABLE IF NOT EXISTS _load_lease
(
    token       String,
    holder      String,
    acquired_at DateTime64(6, 'UTC'),
    expires_at  DateTime64(6, 'UTC'),
    updated_at  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY token
TTL toDateTime(expires_at) + INTERVAL 7 DAY;
