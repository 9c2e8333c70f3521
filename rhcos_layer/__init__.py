"""rhcos-layer: build, push and roll out layered RHCOS images for OpenShift nodes."""

__version__ = "0.1.0"
