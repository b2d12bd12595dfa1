"""Two-stage planning and the hardened tool loop behind ``/v1/respond``."""
