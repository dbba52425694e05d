-- resource_tags: inventory tags as FOCUS key/values: `k=v` and `k:v` split, a bare tag is `true`.

CREATE OR REPLACE VIEW resource_tags AS
SELECT organization_id, resource_type, resource_id, project_id, tag,
       multiIf(position(tag, '=') > 0, substring(tag, 1, position(tag, '=') - 1),
               position(tag, ':') > 0, substring(tag, 1, position(tag, ':') - 1), tag) AS tag_key,
       multiIf(position(tag, '=') > 0, substring(tag, position(tag, '=') + 1),
               position(tag, ':') > 0, substring(tag, position(tag, ':') + 1), 'true') AS tag_value,
       position(tag, '=') = 0 AND position(tag, ':') = 0 AS valueless
FROM resources
ARRAY JOIN tags AS tag
WHERE tag != '';
