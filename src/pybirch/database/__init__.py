"""Persistence: the schema, engines, measurement-data storage and DatabaseService.

This package knows rows, arrays and dicts; it never imports the scan engine's runtime
(scans, queues, extensions). :mod:`pybirch.database_integration` bridges the two.
"""
