"""Providers: the rows of what chatlane knows about each one (``registry``), and how a client
turns a provider and a model into where a call goes (``endpoints``)."""

from chatlane.providers.endpoints import Route
from chatlane.providers.registry import PROVIDERS, Provider, StructuredOutputMode, get_provider

__all__ = ["PROVIDERS", "Provider", "Route", "StructuredOutputMode", "get_provider"]
