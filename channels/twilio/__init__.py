"""Phone (IVR) and SMS through Twilio: webhooks in, the REST API out, a local peer for tests and demos.

Modules: `webhook` (signature and form reading shared by every webhook), `client` (the REST client,
pointed at HOTLINE_TWILIO_API_URL), `adapter` (the outbound SMS adapter and media fetching), `sms`
(incoming SMS and delivery reports), `ivr` (the call flow as a pure state machine) and `voice` (its
webhooks), `peer` (a local stand-in for Twilio's REST API and a webhook simulator), `views` (routes).
"""
