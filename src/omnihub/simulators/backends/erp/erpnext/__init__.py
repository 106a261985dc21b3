"""An ERPNext (Frappe) site's REST API and signed webhooks, written from Frappe's documents."""

from omnihub.simulators.backends.erp.erpnext.simulator import ErpNextSimulator

__all__ = ["ErpNextSimulator"]
