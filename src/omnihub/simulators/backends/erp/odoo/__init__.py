"""An Odoo server's external JSON-RPC API, written from Odoo's documents."""

from omnihub.simulators.backends.erp.odoo.simulator import OdooSimulator

__all__ = ["OdooSimulator"]
