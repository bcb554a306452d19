"""The hello endpoint of bench/http, with whatever plugins CONDUIT_PLUGINS names.

bench/otel/run.py serves it with conduit-otel absent, installed but off, and on.
"""

from conduit import Conduit

app = Conduit()


@app.get("/")
async def hello(request):
    return {"message": "Hello, World!"}
