"""Kingdee K/3 Cloud (金蝶云星空) WebAPI.

Supports: sales orders (``SAL_SaleOrder`` Save → Submit → Audit; cancel by UnAudit /
CancelAssign then the ``Cancel`` (作废) operation), sales returns (``SAL_RETURNSTOCK``), stock
(``STK_Inventory``), reference costs (``BD_MATERIAL.FRefCost``), audited purchase receipts
(``STK_InStock``) and stock counts (``STK_StockCountInput``) since a time. Login:
``AuthService.ValidateUser`` session cookie. K/3 Cloud sends no callbacks; the hub polls
``stock_documents``.

Config: credentials ``acct_id``, ``username``, ``password`` (``lcid`` 2052 by default);
settings ``sale_org`` and ``customer`` (required), ``stock_org``, ``currency`` (PRE001),
``currency_code`` (CNY), ``bill_type`` (XSDD01_SYS), ``return_bill_type`` (XSTHD01_SYS),
``warehouse_field`` (FSOStockId); warehouses: our location → ``FStockId`` number.
"""
