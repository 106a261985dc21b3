"""ERP adapters (Kingdee K/3 Cloud, Odoo, ERPNext): sales orders and returns go in; stock,
costs, receipts and stock-takes come out."""
