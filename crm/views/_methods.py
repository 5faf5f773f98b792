"""What a view answers to a method it does not take."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

View = Callable[..., HttpResponse]


def post_or_redirect(to: str) -> Callable[[View], View]:
    """A POST-only view that sends any other request to the page `to` (a URL name) that holds its
    form, instead of a bare 405: a bookmarked or reloaded form action lands somewhere useful."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method != "POST":
                return redirect(to)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
