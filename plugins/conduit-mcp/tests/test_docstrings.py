"""Docstrings in Google, NumPy and Sphinx style give a summary and parameter texts."""

from __future__ import annotations

from conduit_mcp.docstrings import parse_docstring


def test_google_style_with_types_and_continuation_lines() -> None:
    doc = parse_docstring(
        """Search the index.

        Longer explanation.

        Args:
            query (str): Words to look for.
            limit: At most this many
                results, best first.
            **filters: Metadata filters.

        Returns:
            The hits.
        """
    )
    assert doc.summary == "Search the index.\n\nLonger explanation."
    assert doc.params == {
        "query": "Words to look for.",
        "limit": "At most this many results, best first.",
        "filters": "Metadata filters.",
    }


def test_numpy_style() -> None:
    doc = parse_docstring(
        """Add two numbers.

        Parameters
        ----------
        a : float
            The first operand.
        b : float
            The second
            operand.

        Returns
        -------
        float
            The sum.
        """
    )
    assert doc.summary == "Add two numbers."
    assert doc.params == {"a": "The first operand.", "b": "The second operand."}


def test_sphinx_style_with_and_without_types() -> None:
    doc = parse_docstring(
        """Fetch a page.

        :param url: The address,
            absolute.
        :param int timeout: Seconds to wait.
        :returns: The body.
        :raises IOError: On failure.
        """
    )
    assert doc.summary == "Fetch a page."
    assert doc.params == {"url": "The address, absolute.", "timeout": "Seconds to wait."}


def test_plain_prose_and_empty_docstrings() -> None:
    assert parse_docstring("Just one line.").summary == "Just one line."
    assert parse_docstring("Just one line.").params == {}
    assert parse_docstring(None).summary == ""
