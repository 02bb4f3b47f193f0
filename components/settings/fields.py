"""Field types: one validated type per kind of value a setting can hold (names, quantities, images, URLs, labels).

Each is checked the way the API server (or the server that reads it) checks it, so a
bad value fails before `pulumi up` starts, with a message that says what is allowed.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Callable, Optional

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from ..deferred import Deferrable
from ..quantity import parse_quantity

# Every pattern is used with fullmatch and ASCII classes: `$` also matches before a
# trailing newline and `\d` matches non-ASCII digits, both of which the API server rejects.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_IPV4 = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
# registry/path[:tag][@sha256:digest]; tag and digest are checked separately.
IMAGE_REFERENCE = re.compile(
    r"(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+|[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
)
RELEASE_VERSION = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)")
_LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
INT32_MAX = 2147483647


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in version)


def dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise PydanticCustomError(
            "dns_label", "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit")
    return value


def _hostname(value: str) -> str:
    if value and (len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value)
                  or any(len(part) > 63 for part in value.split("."))):
        raise PydanticCustomError("hostname", "must be empty or a DNS name such as mcp.apps.example.com "
                                              "(labels of at most 63 characters)")
    if _IPV4.fullmatch(value):
        raise PydanticCustomError("hostname", "must be a DNS name, not an IP address (an Ingress or Route "
                                              "host cannot be an IP address)")
    return value


def dns_subdomain_name(value: str, optional: bool = False) -> str:
    if (value or not optional) and (len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value)):
        raise PydanticCustomError("object_name", "must be {empty}a Kubernetes object name: lowercase letters, "
                                                 "digits, '-' and '.', starting and ending with a letter or digit",
                                  {"empty": "empty or " if optional else ""})
    return value


def object_name(value: str) -> str:
    return dns_subdomain_name(value, optional=True)


def _quantity(value: str) -> str:
    try:
        amount = parse_quantity(value)
    except ValueError:
        raise PydanticCustomError("quantity", "must be a Kubernetes quantity such as 500m, 1, 256Mi or 1Gi "
                                              "(suffixes n u m k M G T P E Ki Mi Gi Ti Pi Ei)") from None
    if amount <= 0:
        raise PydanticCustomError("quantity", "must be more than zero (a zero limit means no limit at all)")
    return value


def _memory(value: str) -> str:
    if parse_quantity(value) % 1:
        raise PydanticCustomError("quantity", "must be a whole number of bytes: use Mi or Gi (256Mi); "
                                              "'m' means thousandths of a byte")
    return value


def full_match(pattern: str, code: str, message: str) -> Callable[[str], str]:
    """A validator accepting exactly the values `pattern` matches in full, refusing the rest with `message`."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError(code, message)
        return value

    return check


# What the MCP server's config names: its tools, and kinds by API group and version.
ToolName = Annotated[str, AfterValidator(full_match(
    r"[a-z][a-z0-9_]{0,127}", "tool_name",
    "must be a tool name such as pods_exec: lowercase letters, digits and '_', starting with a letter"))]
Kind = Annotated[str, AfterValidator(full_match(
    r"[A-Z][A-Za-z0-9]{0,62}", "kind", "must be a Kubernetes kind such as Secret: a capital letter, then letters "
                                       "and digits"))]
ApiVersion = Annotated[str, AfterValidator(full_match(
    r"v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?", "api_version", "must be an API version such as v1, v1beta1 or v2alpha1"))]


def image_reference(value: str) -> str:
    if not IMAGE_REFERENCE.fullmatch(value):
        raise PydanticCustomError("image", "must be an image reference such as "
                                           "quay.io/org/name:v1.2.3 or quay.io/org/name@sha256:<digest>")
    return value


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise PydanticCustomError("url", "must be an http:// or https:// URL")
    if "@" in value.split("/")[2]:
        raise PydanticCustomError("url_credentials", "must not hold credentials (user:password@): the URL is "
                                  "written in clear into a ConfigMap; a key goes in a secret (inference.url: "
                                  "pulumi config set --secret inferenceApiKey ...; extraInference: apiKeySecret)")
    return value


def is_label_key(key: str) -> bool:
    """An optional DNS prefix and '/', then a name of at most 63 characters (labels and annotations)."""
    return bool(_LABEL_KEY.fullmatch(key)) and len(key.split("/")[-1]) <= 63


def _label_map(value: dict[str, str]) -> dict[str, str]:
    for key, val in value.items():
        if not isinstance(val, str) or not is_label_key(key) or not _LABEL_VALUE.fullmatch(val) \
                or len(val) > 63:
            raise PydanticCustomError("label", "{key}: {val!r} is not a valid Kubernetes label",
                                      {"key": key, "val": val})
    return value


DnsLabel = Annotated[str, AfterValidator(dns_label)]
Hostname = Annotated[str, AfterValidator(_hostname)]
ObjectName = Annotated[str, AfterValidator(object_name)]  # a Secret, IngressClass or StorageClass
Quantity = Annotated[str, AfterValidator(_quantity)]
Memory = Annotated[str, AfterValidator(_quantity), AfterValidator(_memory)]
Image = Annotated[str, AfterValidator(image_reference)]
# Values the component may take as Outputs (components/deferred.py): a valid stand-in around a token.
DeferredHostname = Annotated[str, AfterValidator(_hostname), Deferrable("{}.invalid")]
DeferredHttpUrl = Annotated[str, AfterValidator(_http_url), Deferrable("http://{}.invalid/v1")]
DeferredImage = Annotated[str, AfterValidator(image_reference), Deferrable("deferred.invalid/{}:deferred")]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
OptionalHttpUrl = Annotated[str, AfterValidator(lambda value: value and _http_url(value))]  # "": not set
Labels = Annotated[dict[str, str], AfterValidator(_label_map)]
Count = Annotated[int, Field(ge=1, le=INT32_MAX)]


def image_tag(image: str) -> tuple[Optional[str], Optional[str]]:
    """(tag, digest) of an image reference; either may be None."""
    match = IMAGE_REFERENCE.fullmatch(image)
    return (match["tag"], match["digest"]) if match else (None, None)

def label_key(value: str) -> str:
    if not is_label_key(value):
        raise PydanticCustomError("label_key", "must be a label key such as topology.kubernetes.io/zone "
                                               "(an optional DNS prefix and '/', then at most 63 characters)")
    return value


def label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise PydanticCustomError("label_value", "must be a label value: at most 63 letters, digits, '-', '_' "
                                                 "and '.', starting and ending with a letter or digit")
    return value


LabelKey = Annotated[str, AfterValidator(label_key)]
LabelValue = Annotated[str, AfterValidator(label_value)]
Weight = Annotated[int, Field(ge=1, le=100)]


def show(value: Any) -> str:
    """A value as a stack file would write it, for error messages."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
