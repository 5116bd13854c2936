-- Open311 GeoReport v2: the client applications allowed to post requests, and the requests they
-- posted. A request is a case like any other (written by casework's intake); this table only
-- remembers what Open311 needs to show it back: the token, the client, the service the citizen
-- chose (the classifier may later pick another field), and the location fields cases do not keep.

CREATE TABLE open311_clients (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL,
    api_key_hash     text NOT NULL UNIQUE,  -- sha256 hex of the key; the key itself is shown once
    jurisdiction_id  text NOT NULL DEFAULT 'hcmc.gov.vn',
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz
);

CREATE TABLE open311_requests (
    token         text PRIMARY KEY,
    case_id       bigint NOT NULL UNIQUE REFERENCES cases(id),
    client_id     bigint NOT NULL REFERENCES open311_clients(id),
    service_code  text NOT NULL,
    address_id    text,
    media_url     text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX open311_requests_client ON open311_requests (client_id);
