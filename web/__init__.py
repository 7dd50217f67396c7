"""The served application: the API and the pages composed into one ASGI app (``web.main:app``)."""
