using System.Buffers;
using System.Data.Common;
using System.IO.Pipelines;
using System.Text.Json;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Events;

/// <summary>NDJSON: one event per line, as GET /events/{id} shows it, written from the row by the event field list.</summary>
public static class NdjsonEventWriter
{
    /// <summary>Writes every row of <paramref name="reader"/> (selected with <see cref="EventRow.Columns"/>).</summary>
    public static async Task WriteAsync(PipeWriter output, DbDataReader reader, CancellationToken ct)
    {
        await using var json = new Utf8JsonWriter(output, new JsonWriterOptions
        {
            Encoder = TallyJson.Options.Encoder, SkipValidation = true,
        });
        while (reader.Read())
        {
            EventFieldList.WriteJson(json, EventRow.Read(reader));
            json.Flush();
            json.Reset();
            output.Write("\n"u8);
            if (!await EventExport.FlushSometimesAsync(output, ct))
                return;
        }
        await output.FlushAsync(ct);
    }
}
