"""Who is asking: the client's address, read one way for the audit, the rate limits, /metrics and
the login lockout.

DRF's throttles already read it through NUM_PROXIES trusted proxies (`get_ident`); this only
refuses what is not an address, so a malformed header is stored as unknown rather than as text.
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str | None:
    """The client's address through NUM_PROXIES trusted proxies (nginx appends the address it saw
    to X-Forwarded-For, so anything the client wrote before it is ignored), or None."""
    # DRF's reading, not django-ipware's: ipware also trusts headers such as Client-IP that nginx
    # passes through from the client unless each one is cleared.
    address = BaseThrottle().get_ident(request)
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address
