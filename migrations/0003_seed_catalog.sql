-- The catalog the 2024 annual report of 河东区互联网信息办公室 quotes (CONTRACT.md, Catalog).
INSERT INTO org_units (code, name, parent, position, created_at, updated_at) VALUES
    ('tianjin', '天津市', NULL, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'),
    ('hedong', '河东区互联网信息办公室', 'tianjin', 2, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z');

INSERT INTO org_unit_closure (ancestor, descendant, depth) VALUES
    ('tianjin', 'tianjin', 0),
    ('hedong', 'hedong', 0),
    ('tianjin', 'hedong', 1);

INSERT INTO metrics (code, position, name, name_en, unit, description, dimensions, report_template, approximate, active, created_at, updated_at) VALUES
    ('outreach.sessions', 1, '网络举报主题宣传活动', 'Online-reporting outreach sessions', '次', NULL,
     '[{"key":"venue","values":["government","community","enterprise","commercial"]}]',
     '开展网络举报主题宣传进机关、进社区、进企业、进商圈等活动{value}次', 0, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'),
    ('campaign.actions', 2, '“清朗”“净网”等专项行动', 'Special campaign actions (Qinglang, Jingwang)', '次', NULL,
     '[]',
     '深入开展“清朗”“净网”等专项行动{value}次', 1, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'),
    ('leads.handled', 3, '联动处置网站侵权、网络诈骗等问题线索', 'Infringement and fraud leads handled jointly', '起', NULL,
     '[{"key":"kind","values":["infringement","fraud"]}]',
     '及时联动处置网站侵权、网络诈骗等问题线索{value}起', 0, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'),
    ('notices.issued', 4, '下发问题提示单', 'Problem notices issued', '次', NULL,
     '[]',
     '下发问题提示单{value}次', 0, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'),
    ('websites.cleaned', 5, '清理涉黄涉赌网站', 'Pornography and gambling websites cleaned up', '家', NULL,
     '[{"key":"category","values":["pornography","gambling"]}]',
     '累计清理涉黄涉赌网站{value}家', 0, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'),
    ('websites.deregistered', 6, '推动注销违规网站', 'Non-compliant websites deregistered', '家', NULL,
     '[]',
     '推动注销违规网站{value}家', 0, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'),
    ('accounts.interviewed', 7, '约谈自媒体账号', 'Self-media accounts interviewed', '个', NULL,
     '[]',
     '约谈自媒体账号{value}个', 0, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'),
    ('reports.political', 8, '举报初心、涉政类有害信息', 'Harmful political content reported', '条', NULL,
     '[]',
     '举报初心、涉政类有害信息{value}条', 0, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'),
    ('reports.tianjin', 9, '举报涉津有害信息及敏感线索', 'Harmful Tianjin-related content and sensitive leads reported', '条', NULL,
     '[]',
     '举报涉津有害信息及敏感线索{value}条', 0, 1, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z');
