#!/usr/bin/env python3
"""Writes the benchmark's import files: make_import_files.py csv|xlsx ROWS OUT ORGUNIT."""
import sys
import zipfile

kind, rows, out, unit = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
METRICS = ["notices.issued", "accounts.interviewed", "reports.political", "websites.deregistered"]


def row(i):
    return (METRICS[i % 4], f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", str(1 + i % 97), unit, f"bench-{i}")


if kind == "csv":
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write("指标,日期,数量,填报单位,外部编号\r\n")
        for i in range(rows):
            f.write(",".join(row(i)) + "\r\n")
else:
    def cell(ref, text):
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'

    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="数据" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        with z.open("xl/worksheets/sheet1.xml", "w") as s:
            s.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            header = ("指标", "日期", "数量", "填报单位", "外部编号")
            for r, values in enumerate([header] + [row(i) for i in range(rows)], start=1):
                cells = "".join(
                    f'<c r="{c}{r}"><v>{v}</v></c>' if r > 1 and c == "C" else cell(f"{c}{r}", v)
                    for c, v in zip("ABCDE", values))
                s.write(f'<row r="{r}">{cells}</row>'.encode())
            s.write(b"</sheetData></worksheet>")
