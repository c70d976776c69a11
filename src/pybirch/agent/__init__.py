"""The lab-computer runtime: ``pybirch agent`` runs this computer's station for the server."""

from pybirch.agent.agent import Agent, AgentError

__all__ = ["Agent", "AgentError"]
