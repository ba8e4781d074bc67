<?php

declare(strict_types=1);

namespace StackGuard;

/**
 * The configuration file is missing, unreadable or invalid.
 */
final class ConfigException extends \RuntimeException
{
}
