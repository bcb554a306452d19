"""Conduit, sync handler (runs in a worker thread so it never blocks the loop)."""

from conduit import Conduit

app = Conduit(plugins=[])


@app.get("/")
def hello(request):
    return {"message": "Hello, World!"}
