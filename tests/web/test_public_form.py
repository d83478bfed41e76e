"""The public HTML form never loses the reporter's text (issue 12, point 4).

Every refusal of a form a person filled in re-renders it with what they typed
and one error summary; the form's own token, not a cookie, proves it came from
this site; a double submit or a refresh stores one report.
"""

from __future__ import annotations

import re

import pytest

FIELDS = {
    "kind": "suspicious_item",
    "description": "A holdall left under a bench with wires",
    "place_text": "Oakham station",
    "anonymous": "yes",
}


def _form_token(client, kind: str = "suspicious_item") -> str:
    page = client.get(f"/report?kind={kind}")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert match, "the form has no token"
    return match.group(1)


def _kept(response) -> None:
    """The form came back with the typed text and one error summary."""
    assert response.status_code == 422, response.text[:300]
    assert response.text.count('class="error-summary"') == 1
    assert "A holdall left under a bench with wires" in response.text
    assert "Oakham station" in response.text


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"occurred_at": "2999-01-01T10:00"}, "occurred_at"),
        ({"lon": "-0.72"}, "where"),
        ({"lat": "52.67"}, "where"),
        ({"lon": "999", "lat": "52.67"}, "where"),
        ({"lon": "nan", "lat": "inf"}, "where"),
        ({"occurred_at": "0001-01-01T00:30"}, "occurred_at"),
        ({"contact_email": "x"}, "contact_email"),
    ],
)
def test_bad_values_re_render_the_form_with_the_text_kept(client, extra, field) -> None:
    token = _form_token(client)
    data = {**FIELDS, **extra, "csrf_token": token}
    if "contact_email" in extra:
        data["anonymous"] = "no"
    response = client.post("/report", data=data)
    _kept(response)
    assert f'href="#{field}"' in response.text
