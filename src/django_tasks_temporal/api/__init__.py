"""The HTTP trigger service: the only package that imports DRF, drf-spectacular, google-auth."""
