"""The HTTP front end: the Handle.net REST API, pages, OpenAPI document, auth
and request guards.  Imports the core, never another front end."""
