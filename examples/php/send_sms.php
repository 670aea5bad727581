<?php
/**
 * Send an SMS through the smsbilling partner API, in plain PHP (7.4 or later; allow_url_fopen on).
 *
 *     SMSBILLING_API_BASE=https://<api-id>.execute-api.<region>.amazonaws.com/Prod \
 *     SMSBILLING_API_KEY=sk_... \
 *     php send_sms.php <service_id> <destination> <text>
 *
 * Prints the JSON answer; exits 0 when the message is queued (202), 1 on a refusal (the answer is a
 * problem document with a "code"), 2 on a usage error. Sends an Idempotency-Key (printed on
 * stderr): set IDEMPOTENCY_KEY to it to repeat a send safely after a timeout.
 */

declare(strict_types=1);

function send_sms(string $base, string $key, string $service_id, string $destination, string $text, string $idempotency_key): array
{
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => implode("\r\n", [
            'Authorization: Bearer ' . $key,
            'Content-Type: application/json',
            'Accept: application/json',
            'Idempotency-Key: ' . $idempotency_key,
        ]),
        'content' => json_encode(['service_id' => $service_id, 'destination' => $destination, 'text' => $text]),
        'ignore_errors' => true,  // read the problem document of a 4xx too
        'timeout' => 30,
    ]]);
    $body = file_get_contents(rtrim($base, '/') . '/v1/sms', false, $context);
    $status = 0;
    foreach ($http_response_header ?? [] as $line) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
            $status = (int) $m[1];  // the last status line (after any interim one)
        }
    }
    return [$status, $body === false ? null : json_decode($body, true)];
}

$base = (string) getenv('SMSBILLING_API_BASE');
$key = (string) getenv('SMSBILLING_API_KEY');
if ($argc !== 4 || $base === '' || $key === '') {
    fwrite(STDERR, "usage: SMSBILLING_API_BASE=... SMSBILLING_API_KEY=... php send_sms.php <service_id> <destination> <text>\n");
    exit(2);
}
$idempotency_key = (string) (getenv('IDEMPOTENCY_KEY') ?: bin2hex(random_bytes(16)));
fwrite(STDERR, "Idempotency-Key: $idempotency_key\n");
[$status, $answer] = send_sms($base, $key, $argv[1], $argv[2], $argv[3], $idempotency_key);
echo json_encode($answer, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
if ($status !== 202) {
    fwrite(STDERR, sprintf("refused (%d): %s: %s\n", $status, $answer['code'] ?? '?', $answer['detail'] ?? ''));
    exit(1);
}
exit(0);
