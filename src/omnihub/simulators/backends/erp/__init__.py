"""ERPs: Kingdee K/3 Cloud, Odoo, ERPNext."""
