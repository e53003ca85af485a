-- A fresh axs and the users the regress cases act as, each in one axs group
-- (not a case: REGRESS takes sql/*.sql; psql reads cases in extension/).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS axs CASCADE;
CREATE EXTENSION axs;
RESET client_min_messages;
CREATE ROLE regress_axs_admin IN ROLE axs_admin; CREATE ROLE regress_axs_app IN ROLE axs_app;
SET ROLE regress_axs_admin;
