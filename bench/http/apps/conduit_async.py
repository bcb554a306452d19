"""Conduit, async handler returning a dict (JSON through orjson)."""

from conduit import Conduit

app = Conduit(plugins=[])


@app.get("/")
async def hello(request):
    return {"message": "Hello, World!"}
