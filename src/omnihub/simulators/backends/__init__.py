"""The back ends (ERP, WMS, instant delivery), one folder per system under ``<kind>/<name>/``."""
