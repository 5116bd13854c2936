"""The web channel: the public report form, the JSON intake API and the public status page."""
