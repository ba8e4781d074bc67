<?php

declare(strict_types=1);

namespace StackGuard;

/**
 * The database cannot be reached. Deliberately not chained to the original
 * PDOException, whose trace could carry the connection arguments.
 */
final class DatabaseException extends \RuntimeException
{
    private string $driverCode;

    public function __construct(string $message, string $driverCode)
    {
        parent::__construct($message);
        $this->driverCode = $driverCode;
    }

    /**
     * The client/server error number (e.g. "2002", "1045"), or "" if unknown.
     */
    public function driverCode(): string
    {
        return $this->driverCode;
    }
}
