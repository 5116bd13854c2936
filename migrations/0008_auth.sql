-- Staff authentication hardening.
--
-- Failed sign-ins are counted per user name, whether or not such a user exists, so a locked-out name
-- looks the same from outside for a real account and a guessed one; hence a table of its own rather
-- than columns on staff_users. A success deletes the row; stale rows are pruned on later failures.
CREATE TABLE login_failures (
    username          text PRIMARY KEY,
    failures          integer NOT NULL,
    window_started_at timestamptz NOT NULL,
    locked_until      timestamptz
);
CREATE INDEX login_failures_window ON login_failures (window_started_at);

-- The first characters of a token ("hl_" and 9 more), so one token can be revoked by what its owner
-- can read off it; the rest is only ever stored hashed. NULL on tokens issued before this migration.
ALTER TABLE api_tokens ADD COLUMN token_prefix text;
CREATE INDEX api_tokens_user ON api_tokens (user_id);
