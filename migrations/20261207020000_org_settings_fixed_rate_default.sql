-- org_settings.fixed_interest_rate_annual_percent: store the default as the legacy schema does.
--
-- The legacy migration 382127535a2f declares it as DEFAULT '0' (stored and dumped as
-- '0'::numeric); the baseline says DEFAULT 0 (an integer cast to numeric, dumped as 0). Both give
-- 0, but a database `sole` created then does not dump like a legacy one. The baseline cannot be
-- edited (adopted and migrated databases record its checksum), so this fixes it afterwards.
--
-- Only a default that reads `0` – one the baseline created – is changed; an adopted legacy
-- database already has the legacy form and is left untouched.
DO $$
BEGIN
    IF (SELECT pg_get_expr(d.adbin, d.adrelid)
          FROM pg_attrdef d
          JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
         WHERE d.adrelid = 'org_settings'::regclass
           AND a.attname = 'fixed_interest_rate_annual_percent') = '0' THEN
        ALTER TABLE org_settings ALTER COLUMN fixed_interest_rate_annual_percent SET DEFAULT '0';
    END IF;
END
$$;
