"""The seed's ``conduit.core`` path: data types that live in plugins (see ``conduit.core.models``)."""

__all__ = ["models"]
