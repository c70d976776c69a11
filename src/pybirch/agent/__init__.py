"""The lab-computer runtime: ``pybirch agent`` runs this computer's queues for the server."""

from pybirch.agent.agent import Agent, AgentError, Registration

__all__ = ["Agent", "AgentError", "Registration"]
