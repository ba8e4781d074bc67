<?php

declare(strict_types=1);

namespace StackGuard\Domain;

use PDO;

/**
 * Table messages: id, sender_id, recipient_id, body, created_at.
 */
final class MessageRepository
{
    public const DEFAULT_LIMIT = 100;

    private PDO $pdo;

    public function __construct(PDO $pdo)
    {
        $this->pdo = $pdo;
    }

    /**
     * @return int the new message id
     */
    public function send(int $senderId, int $recipientId, string $body): int
    {
        $statement = $this->pdo->prepare(
            'INSERT INTO messages (sender_id, recipient_id, body, created_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6))'
        );
        $statement->execute([$senderId, $recipientId, $body]);
        return (int) $this->pdo->lastInsertId();
    }

    /**
     * Messages received by the user, newest first.
     *
     * @return list<array{id: int, from: string, to: string, body: string, created_at: string}>
     */
    public function inbox(int $userId, int $limit = self::DEFAULT_LIMIT): array
    {
        return $this->fetchMessages('m.recipient_id = ?', $userId, $limit);
    }

    /**
     * Messages sent by the user, newest first.
     *
     * @return list<array{id: int, from: string, to: string, body: string, created_at: string}>
     */
    public function sent(int $userId, int $limit = self::DEFAULT_LIMIT): array
    {
        return $this->fetchMessages('m.sender_id = ?', $userId, $limit);
    }

    /**
     * @return list<array{id: int, from: string, to: string, body: string, created_at: string}>
     */
    private function fetchMessages(string $condition, int $userId, int $limit): array
    {
        $limit = max(1, min(1000, $limit));
        $statement = $this->pdo->prepare(
            'SELECT m.id, s.username AS sender, r.username AS recipient, m.body, m.created_at'
            . ' FROM messages m'
            . ' JOIN users s ON s.id = m.sender_id'
            . ' JOIN users r ON r.id = m.recipient_id'
            . ' WHERE ' . $condition
            . ' ORDER BY m.id DESC'
            . ' LIMIT ' . $limit
        );
        $statement->execute([$userId]);
        $messages = [];
        foreach ($statement->fetchAll(PDO::FETCH_ASSOC) as $row) {
            $messages[] = [
                'id' => (int) $row['id'],
                'from' => (string) $row['sender'],
                'to' => (string) $row['recipient'],
                'body' => (string) $row['body'],
                // Stored in UTC by send(); ISO 8601 with microseconds.
                'created_at' => str_replace(' ', 'T', (string) $row['created_at']) . 'Z',
            ];
        }
        return $messages;
    }
}
