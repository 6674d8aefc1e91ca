import { taskHandler } from './task.js';

export const handler = taskHandler('CancelOrders');
