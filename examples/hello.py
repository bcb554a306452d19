"""The seed's "Complete Example", with a path parameter that is really matched.

Run it:  conduit run examples.hello:app --port 8080   (or: python examples/hello.py)
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, TypedDict

from conduit import Conduit
from conduit.http.middleware import cors_middleware, logger_middleware, timing_middleware
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse

# Create application
app = Conduit(port=8080)

# Add middleware (first added is outermost)
app.use(logger_middleware(prefix="[API]"))
app.use(cors_middleware(origin="https://example.com"))
app.use(timing_middleware())

# Enable documentation
app.enable_docs(title="My API", version="1.0.0", description="Complete API example")

USERS = {"1": "Alice", "2": "Bob", "3": "Charlie"}


class NewUser(TypedDict):
    """A user to create."""

    name: Annotated[str, {"minLength": 1}]


@app.get("/")
def index(request: HTTPRequest) -> HTTPResponse:
    """Welcome message with links."""
    return HTTPResponse().json({"message": "Welcome to My API", "version": "1.0.0", "docs": "/docs"})


@app.get("/users", query={"page": int | None, "limit": int | None})
def list_users(request: HTTPRequest) -> HTTPResponse:
    """List users, paginated by ?page= and ?limit=."""
    page = request.query.get("page", "1")
    limit = request.query.get("limit", "10")
    return HTTPResponse().json({"users": "Alice, Bob, Charlie", "page": page, "limit": limit})


@app.get("/users/:id", responses={404: "User not found"})
def get_user(request: HTTPRequest) -> HTTPResponse:
    """One user by id (404 when unknown)."""
    user_id = request.params.get("id", "")
    if user_id not in USERS:
        return HTTPResponse(404).json({"error": "User not found", "id": user_id})
    return HTTPResponse().json({"id": user_id, "name": USERS[user_id]})


@app.post("/users", body=NewUser, status_code=201, responses={400: "Name required"})
def create_user(request: HTTPRequest) -> HTTPResponse:
    """Create a user from a JSON body {"name": ...}."""
    data = request.parse_json()
    name = data.get("name", "") if isinstance(data, dict) else ""
    if not name:
        return HTTPResponse(400).json({"error": "Name required"})
    return HTTPResponse(201).json({"status": "created", "name": name})


@app.get("/health")
def health_check(request: HTTPRequest) -> HTTPResponse:
    """Liveness."""
    return HTTPResponse().json({"status": "healthy", "timestamp": date.today().isoformat()})


# Start server
if __name__ == "__main__":
    app.run()
