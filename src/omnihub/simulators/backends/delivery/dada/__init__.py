"""A Dada (达达) instant-delivery platform, written from Dada's open-platform documents (request
and callback signatures, API paths, status and error codes), not from the adapter."""

from omnihub.simulators.backends.delivery.dada.simulator import DadaSimulator, Point, Task

__all__ = ["DadaSimulator", "Point", "Task"]
