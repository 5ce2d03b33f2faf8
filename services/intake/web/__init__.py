"""What every HTTP door shares: bodies read under a size and depth bound, request headers,
API keys, refusals, security headers, the 503 answer, CSRF-protected pages, the OpenAPI
document."""
