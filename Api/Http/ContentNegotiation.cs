using Microsoft.Net.Http.Headers;

namespace Tally.Api.Http;

/// <summary>
/// Chooses a response's media type from the Accept header (RFC 9110 §12.5.1), for routes that answer in more than one:
/// each offer takes the quality of the most specific range that names it; the highest quality wins, then the more
/// specific range, then the range the client listed first, then the server's own order of preference.
/// </summary>
public static class ContentNegotiation
{
    /// <summary>
    /// The choice of the offer the request accepts best; <paramref name="offers"/> in the server's order of preference
    /// (no Accept header, or one that does not parse: the first). Null when the header admits none of them.
    /// </summary>
    public static T? Choose<T>(HttpRequest request, IReadOnlyList<(string MediaType, T Choice)> offers) where T : struct
    {
        var accept = request.GetTypedHeaders().Accept;
        if (accept.Count == 0)
            return offers[0].Choice;
        T? best = null;
        (double Quality, int Specificity, int Position) bestRank = (0, -1, 0);
        foreach (var (mediaType, choice) in offers)
        {
            var rank = Rank(accept, mediaType);
            if (rank is not { } found || found.Quality <= 0)
                continue;
            if (best is null || found.Quality > bestRank.Quality
                || (found.Quality == bestRank.Quality && (found.Specificity > bestRank.Specificity
                    || (found.Specificity == bestRank.Specificity && found.Position < bestRank.Position))))
            {
                best = choice;
                bestRank = found;
            }
        }
        return best;
    }

    /// <summary>The most specific range of <paramref name="accept"/> that names <paramref name="mediaType"/>, with its quality.</summary>
    private static (double Quality, int Specificity, int Position)? Rank(IList<MediaTypeHeaderValue> accept, string mediaType)
    {
        var slash = mediaType.IndexOf('/', StringComparison.Ordinal);
        (double, int, int)? found = null;
        var foundSpecificity = -1;
        for (var i = 0; i < accept.Count; i++)
        {
            var range = accept[i];
            var specificity =
                range.MediaType.Equals(mediaType, StringComparison.OrdinalIgnoreCase) ? 2
                : range.SubType.Equals("*", StringComparison.Ordinal)
                  && range.Type.Equals(mediaType[..slash], StringComparison.OrdinalIgnoreCase) ? 1
                : range.MediaType.Equals("*/*", StringComparison.Ordinal) ? 0
                : -1;
            if (specificity > foundSpecificity)
            {
                foundSpecificity = specificity;
                found = (range.Quality ?? 1.0, specificity, i);
            }
        }
        return found;
    }
}
