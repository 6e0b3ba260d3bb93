"""Web layer of tidings serve: server-rendered pages, SVG charts and the API's JSON schema."""
