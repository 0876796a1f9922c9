-- uhc-bench-pg: uhc_apply_v1 (enrollment-svc/uhc_functions.lua) in PostgreSQL 15, for the
-- ingest benchmark. Recreated from scratch by every run (schema uhc_pg).
--
-- participant: one row per record, as one field of a Redis bucket hash: the (region, participant)
-- pair is the key, so a relocated participant has a MOVED_OUT tombstone in the old region and a
-- live row in the new one. pkey is the 8-byte field of HMAC-SHA256(secret, NIK) as a big-endian
-- bigint; flags is the record's first byte (bits 0-2 segment, bit 3 active, bits 4-6 kind of the
-- last applied event: 1 ENROLLED, 2 STATUS, 3 SEGMENT, 4 RELOCATED, 5 MOVED_OUT, 6 TERMINATED;
-- 5 and 6 are tombstones and count nowhere); ts the last applied event's event_time in ms; idh
-- its event id hash (FNV-1a, uint32) minus 2^31, so that signed order is unsigned order.
--
-- region_agg: one row per kab/kota (index into the registry's regencies), the fields of the
-- aggregate hash: n1..n5 / a1..a5 participants / active per segment, part / act totals, ver (+1
-- per applied step) and last (newest applied event_time, ms).
--
-- Steps in, as uhc_apply_v1's ARGV: a relocation is a LEAVE (op 4) of the old region followed by
-- an ENTER (op 5, arg 255: "what the LEAVE removed") of the new one. Ops 1 ENROLL (arg segment |
-- active << 3), 2 STATUS (arg active), 3 SEGMENT (arg segment), 6 TERMINATE. One result code per
-- step, as the Lua's result bytes: 1 APPLIED, 2 DUPLICATE, 3 STALE, 4 NOT_FOUND, 5 GONE, 6 SKIPPED;
-- an APPLIED or DUPLICATE LEAVE also carries segment (bits 3-5) and active (bit 6).
--
-- Concurrency: calls on different connections serialize per record, not per batch (READ
-- COMMITTED): every record a call changes is read FOR UPDATE, so its read-modify-write is atomic
-- and the aggregates, sums of per-record deltas, stay exact. Rows are locked and inserted in key
-- order and aggregates upserted in region order, so two calls never wait on each other in a
-- cycle. A record a call found missing but another call inserted first fails the call with
-- serialization_failure (40001); the caller retries the batch, which rolled back as a whole.

DROP SCHEMA IF EXISTS uhc_pg CASCADE;
CREATE SCHEMA uhc_pg;

-- Columns widest first: 24 bytes of data per row, no padding.
CREATE TABLE uhc_pg.participant (
  pkey bigint NOT NULL,
  ts bigint NOT NULL,
  idh integer NOT NULL,
  region smallint NOT NULL,
  flags smallint NOT NULL,
  PRIMARY KEY (region, pkey)
);

CREATE TABLE uhc_pg.region_agg (
  region smallint PRIMARY KEY,
  n1 integer NOT NULL, n2 integer NOT NULL, n3 integer NOT NULL, n4 integer NOT NULL,
  n5 integer NOT NULL,
  a1 integer NOT NULL, a2 integer NOT NULL, a3 integer NOT NULL, a4 integer NOT NULL,
  a5 integer NOT NULL,
  part integer NOT NULL,
  act integer NOT NULL,
  ver bigint NOT NULL,
  last bigint NOT NULL
);

-- Set-based I/O around an in-memory fold: one statement numbers the distinct records (slots),
-- one reads and locks the existing ones, the steps are decided in order in PL/pgSQL variables
-- only, then one UPDATE, one INSERT and one aggregate upsert. A record's net effect on its
-- region is its final contribution minus its first, which is what the Lua's per-step deltas add
-- up to; ver adds the applied steps and last takes their newest event_time.
CREATE FUNCTION uhc_pg.apply_batch(e_op smallint[], e_region smallint[], e_pkey bigint[],
                                   e_ts bigint[], e_idh integer[], e_arg smallint[])
RETURNS smallint[] LANGUAGE plpgsql AS $$
DECLARE
  n integer := cardinality(e_op);
  e_slot integer[];
  k_region smallint[];
  k_pkey bigint[];
  nk integer;
  o_flags integer[];  -- flags as read (0: no record)
  s_flags integer[];  -- flags as decided so far
  s_ts bigint[];
  s_idh integer[];
  s_cnt integer[];  -- applied steps per slot
  codes smallint[] := array_fill(0::smallint, ARRAY[n]);
  i integer;
  s integer;
  op integer;
  f integer;
  a integer;
  code integer;
  carry integer := -1;  -- segment | active << 3 the last LEAVE removed, or -1
  ts bigint;
  h integer;
  inserts integer := 0;
  inserted integer;
BEGIN
  SELECT array_agg(z.s ORDER BY z.o) INTO e_slot
  FROM (SELECT x.o, dense_rank() OVER (ORDER BY x.r, x.k)::integer AS s
        FROM unnest(e_region, e_pkey) WITH ORDINALITY AS x(r, k, o)) z;
  SELECT array_agg(d.r ORDER BY d.r, d.k), array_agg(d.k ORDER BY d.r, d.k) INTO k_region, k_pkey
  FROM (SELECT DISTINCT x.r, x.k FROM unnest(e_region, e_pkey) AS x(r, k)) d;
  nk := cardinality(k_region);

  WITH locked AS (
    SELECT u.s, p.flags, p.ts, p.idh
    FROM unnest(k_region, k_pkey) WITH ORDINALITY AS u(r, k, s)
    JOIN uhc_pg.participant p ON p.region = u.r AND p.pkey = u.k
    ORDER BY u.s
    FOR UPDATE OF p)
  SELECT array_agg(coalesce(l.flags, 0)::integer ORDER BY g.s),
         array_agg(coalesce(l.ts, 0) ORDER BY g.s),
         array_agg(coalesce(l.idh, 0) ORDER BY g.s)
  INTO o_flags, s_ts, s_idh
  FROM generate_series(1, nk) AS g(s) LEFT JOIN locked l ON l.s = g.s;
  s_flags := o_flags;
  s_cnt := array_fill(0, ARRAY[nk]);

  FOR i IN 1 .. n LOOP
    op := e_op[i];
    s := e_slot[i];
    ts := e_ts[i];
    h := e_idh[i];
    f := s_flags[s];
    IF op = 4 THEN
      carry := -1;
    END IF;
    IF f <> 0 AND ts = s_ts[s] AND h = s_idh[s] THEN
      code := 2;
      IF op = 4 THEN
        carry := f & 15;
      END IF;
    ELSIF f <> 0 AND (ts < s_ts[s] OR (ts = s_ts[s] AND h < s_idh[s])) THEN
      code := 3;
    ELSIF op = 1 OR op = 5 THEN
      a := e_arg[i];
      IF a = 255 THEN
        a := carry;
      END IF;
      IF a < 0 THEN
        code := 6;
      ELSE
        f := (a & 15) | CASE WHEN op = 1 THEN 16 ELSE 64 END;
        code := 1;
      END IF;
    ELSIF f = 0 THEN
      code := 4;
    ELSIF f >= 80 THEN
      code := 5;
    ELSE
      code := 1;
      IF op = 2 THEN
        f := (f & 7) | (e_arg[i] << 3) | 32;
      ELSIF op = 3 THEN
        f := e_arg[i] | (f & 8) | 48;
      ELSIF op = 4 THEN
        carry := f & 15;
        f := (f & 15) | 80;
      ELSE
        f := (f & 15) | 96;
      END IF;
    END IF;
    IF op = 5 THEN
      carry := -1;
    END IF;
    IF code = 1 THEN
      IF o_flags[s] = 0 AND s_cnt[s] = 0 THEN
        inserts := inserts + 1;
      END IF;
      s_flags[s] := f;
      s_ts[s] := ts;
      s_idh[s] := h;
      s_cnt[s] := s_cnt[s] + 1;
    END IF;
    IF op = 4 AND code <= 2 THEN
      code := code | ((carry & 7) << 3) | ((carry & 8) << 3);
    END IF;
    codes[i] := code;
  END LOOP;

  UPDATE uhc_pg.participant p SET flags = u.f, ts = u.t, idh = u.h
  FROM unnest(k_region, k_pkey, o_flags, s_flags, s_ts, s_idh, s_cnt) AS u(r, k, o, f, t, h, c)
  WHERE u.c > 0 AND u.o <> 0 AND p.region = u.r AND p.pkey = u.k;
  INSERT INTO uhc_pg.participant (pkey, ts, idh, region, flags)
  SELECT u.k, u.t, u.h, u.r, u.f
  FROM unnest(k_region, k_pkey, o_flags, s_flags, s_ts, s_idh, s_cnt) AS u(r, k, o, f, t, h, c)
  WHERE u.c > 0 AND u.o = 0
  ORDER BY u.r, u.k
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS inserted = ROW_COUNT;
  IF inserted <> inserts THEN
    RAISE EXCEPTION 'a record this batch found missing was inserted concurrently; retry'
      USING ERRCODE = 'serialization_failure';
  END IF;

  INSERT INTO uhc_pg.region_agg AS g
    (region, n1, n2, n3, n4, n5, a1, a2, a3, a4, a5, part, act, ver, last)
  SELECT d.r,
    sum((d.nl AND d.ns = 1)::integer - (d.ol AND d.os = 1)::integer),
    sum((d.nl AND d.ns = 2)::integer - (d.ol AND d.os = 2)::integer),
    sum((d.nl AND d.ns = 3)::integer - (d.ol AND d.os = 3)::integer),
    sum((d.nl AND d.ns = 4)::integer - (d.ol AND d.os = 4)::integer),
    sum((d.nl AND d.ns = 5)::integer - (d.ol AND d.os = 5)::integer),
    sum((d.nl AND d.na AND d.ns = 1)::integer - (d.ol AND d.oa AND d.os = 1)::integer),
    sum((d.nl AND d.na AND d.ns = 2)::integer - (d.ol AND d.oa AND d.os = 2)::integer),
    sum((d.nl AND d.na AND d.ns = 3)::integer - (d.ol AND d.oa AND d.os = 3)::integer),
    sum((d.nl AND d.na AND d.ns = 4)::integer - (d.ol AND d.oa AND d.os = 4)::integer),
    sum((d.nl AND d.na AND d.ns = 5)::integer - (d.ol AND d.oa AND d.os = 5)::integer),
    sum(d.nl::integer - d.ol::integer),
    sum((d.nl AND d.na)::integer - (d.ol AND d.oa)::integer),
    sum(d.c),
    max(d.t)
  FROM (SELECT u.r, u.c, u.t,
               u.f < 80 AS nl, u.f & 7 AS ns, u.f & 8 <> 0 AS na,
               u.o <> 0 AND u.o < 80 AS ol, u.o & 7 AS os, u.o & 8 <> 0 AS oa
        FROM unnest(k_region, o_flags, s_flags, s_ts, s_cnt) AS u(r, o, f, t, c)
        WHERE u.c > 0) d
  GROUP BY d.r
  ORDER BY d.r
  ON CONFLICT (region) DO UPDATE SET
    n1 = g.n1 + excluded.n1, n2 = g.n2 + excluded.n2, n3 = g.n3 + excluded.n3,
    n4 = g.n4 + excluded.n4, n5 = g.n5 + excluded.n5,
    a1 = g.a1 + excluded.a1, a2 = g.a2 + excluded.a2, a3 = g.a3 + excluded.a3,
    a4 = g.a4 + excluded.a4, a5 = g.a5 + excluded.a5,
    part = g.part + excluded.part, act = g.act + excluded.act,
    ver = g.ver + excluded.ver, last = greatest(g.last, excluded.last);
  RETURN codes;
END;
$$;

-- Every region recounted from its records against its aggregate row: the number of fields that
-- differ (a region with records but no row, or a row but no records, differs in each nonzero one).
CREATE FUNCTION uhc_pg.mismatched_fields() RETURNS bigint LANGUAGE sql AS $$
  WITH recount AS (
    SELECT region,
      count(*) FILTER (WHERE flags & 7 = 1) AS n1, count(*) FILTER (WHERE flags & 7 = 2) AS n2,
      count(*) FILTER (WHERE flags & 7 = 3) AS n3, count(*) FILTER (WHERE flags & 7 = 4) AS n4,
      count(*) FILTER (WHERE flags & 7 = 5) AS n5,
      count(*) FILTER (WHERE flags & 15 = 9) AS a1, count(*) FILTER (WHERE flags & 15 = 10) AS a2,
      count(*) FILTER (WHERE flags & 15 = 11) AS a3, count(*) FILTER (WHERE flags & 15 = 12) AS a4,
      count(*) FILTER (WHERE flags & 15 = 13) AS a5,
      count(*) AS part, count(*) FILTER (WHERE flags & 8 <> 0) AS act
    FROM uhc_pg.participant
    WHERE flags < 80
    GROUP BY region)
  SELECT coalesce(sum(
    (coalesce(c.n1, 0) <> coalesce(g.n1, 0))::integer +
    (coalesce(c.n2, 0) <> coalesce(g.n2, 0))::integer +
    (coalesce(c.n3, 0) <> coalesce(g.n3, 0))::integer +
    (coalesce(c.n4, 0) <> coalesce(g.n4, 0))::integer +
    (coalesce(c.n5, 0) <> coalesce(g.n5, 0))::integer +
    (coalesce(c.a1, 0) <> coalesce(g.a1, 0))::integer +
    (coalesce(c.a2, 0) <> coalesce(g.a2, 0))::integer +
    (coalesce(c.a3, 0) <> coalesce(g.a3, 0))::integer +
    (coalesce(c.a4, 0) <> coalesce(g.a4, 0))::integer +
    (coalesce(c.a5, 0) <> coalesce(g.a5, 0))::integer +
    (coalesce(c.part, 0) <> coalesce(g.part, 0))::integer +
    (coalesce(c.act, 0) <> coalesce(g.act, 0))::integer), 0)
  FROM recount c FULL JOIN uhc_pg.region_agg g ON g.region = c.region;
$$;
