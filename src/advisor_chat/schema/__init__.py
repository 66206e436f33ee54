"""The ten tables, declared once; DDL, validation and API schemas derive from here."""
