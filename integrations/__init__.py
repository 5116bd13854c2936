"""Integrations with the city's other systems: procedures, geocoding, Open311, DTI."""
